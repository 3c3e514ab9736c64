"""The centre's web service (``courtbox central serve``): the operations dashboard and the
e-case file feed over HTTPS, with its own accounts, roles and audit in PostgreSQL."""
