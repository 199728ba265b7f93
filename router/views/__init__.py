"""The router's HTTP API: thin views that validate, call a service and serialize."""
