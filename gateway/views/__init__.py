"""Wire shapes (`TypedDict`s) and the functions that build them from persistence rows."""
