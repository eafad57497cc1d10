"""The HTTP API, version 1 under /api/v1/: thin views over the app's services and selectors."""
