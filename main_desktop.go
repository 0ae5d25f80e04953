//go:build desktop

package main

import (
	"context"
	_ "embed"
	"os"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"

	"parley/app"
	"parley/frontend"
)

//go:embed build/appicon.png
var appIcon []byte

// runDesktop opens the Parley window (the desktop build).
func runDesktop() error {
	a, err := app.New(app.Config{
		TestReport: os.Getenv("PARLEY_TEST_REPORT"),
		TestImage:  os.Getenv("PARLEY_TEST_IMAGE"),
		HostAddr:   os.Getenv("PARLEY_TEST_HOST_ADDR"),
	})
	if err != nil {
		return err
	}
	var shell app.WailsShell
	return wails.Run(&options.App{
		Title:     "Parley",
		Width:     1180,
		Height:    760,
		MinWidth:  720,
		MinHeight: 480,
		AssetServer: &assetserver.Options{
			Assets:     frontend.Assets,
			Middleware: frontend.Headers,
		},
		BackgroundColour: options.NewRGB(246, 247, 251),
		DragAndDrop:      &options.DragAndDrop{EnableFileDrop: true, DisableWebViewDrop: true},
		Linux:            &linux.Options{ProgramName: "parley", Icon: appIcon, WebviewGpuPolicy: linux.WebviewGpuPolicyNever},
		OnStartup: func(ctx context.Context) {
			shell = app.WailsShell{Ctx: ctx}
			app.SetShell(a, shell)
			shell.OnFileDrop(func(paths []string) { app.DropFiles(a, paths) })
		},
		OnShutdown: func(context.Context) { app.Close(a) },
		Bind:       []any{a},
	})
}
