package ui

import "testing"

// TestTemplatesParse parses every page, as the console would at first
// showing: a template error is caught here, not by whoever opens the page.
func TestTemplatesParse(t *testing.T) {
	t.Parallel()
	files := pageFiles()
	if len(files) < 10 {
		t.Fatalf("found %d page templates, want the console's twenty-odd", len(files))
	}
	for name, file := range files {
		if _, err := parsePage(file); err != nil {
			t.Errorf("page %s: %v", name, err)
		}
	}
}
