"""Expression compiling by part: Compiled and dispatch, operators, CASE/CAST/constructors."""
