package grid

// OpenSession lets the tests open a session for a principal checked earlier, as Login
// does between its password check and its insert.
var OpenSession = (*Store).openSession
