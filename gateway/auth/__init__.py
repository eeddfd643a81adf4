"""Who may do what: viewer tokens (JWT), the route policy table, and the middleware that
applies them. See policy.py for the table every route must have an entry in."""
