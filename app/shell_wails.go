package app

import (
	"context"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// WailsShell is the Shell of a Wails window; its context is the one Wails
// passes to OnStartup.
type WailsShell struct{ Ctx context.Context }

// OpenImageDialog opens the native file dialog filtered to images.
func (w WailsShell) OpenImageDialog() (string, error) {
	return runtime.OpenFileDialog(w.Ctx, runtime.OpenDialogOptions{
		Title: "Send an image",
		Filters: []runtime.FileFilter{
			{DisplayName: "Images (PNG, JPEG, GIF, WebP)", Pattern: "*.png;*.jpg;*.jpeg;*.gif;*.webp;*.PNG;*.JPG;*.JPEG;*.GIF;*.WEBP"},
		},
	})
}

// SaveFileDialog opens the native save dialog.
func (w WailsShell) SaveFileDialog(defaultName string) (string, error) {
	return runtime.SaveFileDialog(w.Ctx, runtime.SaveDialogOptions{Title: "Save image", DefaultFilename: defaultName})
}

// SetTitle sets the window title.
func (w WailsShell) SetTitle(title string) { runtime.WindowSetTitle(w.Ctx, title) }

// Emit sends an event to the page (window.runtime.EventsOn).
func (w WailsShell) Emit(name string, data any) { runtime.EventsEmit(w.Ctx, name, data) }

// OnFileDrop registers f for files dropped on the window.
func (w WailsShell) OnFileDrop(f func(paths []string)) {
	runtime.OnFileDrop(w.Ctx, func(_, _ int, paths []string) { f(paths) })
}
