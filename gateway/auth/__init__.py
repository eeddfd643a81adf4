"""Who may do what: viewer tokens (JWT) and their revocation, the route policy table, and the
middleware that applies them. See policy.py for the table every route must have an entry in;
revocations.py for the book of revoked tokens, closing.py for what a credential has open
that must end with it."""
