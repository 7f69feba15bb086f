"""One router module per resource family; adding a resource is adding a module here and one line in app.py."""
