package app

// Shell is the native side of the desktop window, as the App needs it.
// The Wails implementation is in shell_wails.go; tests use a fake.
type Shell interface {
	// OpenImageDialog asks the user for an image file (PNG, JPEG, GIF,
	// WebP) and returns its path, or "" when cancelled.
	OpenImageDialog() (string, error)
	// SaveFileDialog asks where to save a file named defaultName and
	// returns the path, or "" when cancelled.
	SaveFileDialog(defaultName string) (string, error)
	// SetTitle sets the window title.
	SetTitle(title string)
	// Emit sends an event to the UI.
	Emit(name string, data any)
}

// nopShell is the Shell of an App without a window.
type nopShell struct{}

func (nopShell) OpenImageDialog() (string, error)      { return "", nil }
func (nopShell) SaveFileDialog(string) (string, error) { return "", nil }
func (nopShell) SetTitle(string)                       {}
func (nopShell) Emit(string, any)                      {}
