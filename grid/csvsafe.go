package grid

// CSVSafe neutralises a CSV cell that a spreadsheet would run as a formula (CSV injection,
// OWASP's rule): a cell starting with =, +, -, @, a tab or a carriage return gets a single
// quote in front, so Excel and LibreOffice show it as the text it is. Every CSV the
// service writes passes its text cells through it; XLSX cells are typed strings instead.
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
