package grid

// CSVSafe neutralises a CSV cell that a spreadsheet would read as a formula (OWASP's CSV
// injection rule): a cell starting with =, +, -, @, a tab or a carriage return gets a
// leading single quote, so Excel and LibreOffice show the text instead of running it
// (=HYPERLINK(...) in a hazard's description). Every CSV the service writes passes each
// cell through it; other cells are returned unchanged.
func CSVSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
