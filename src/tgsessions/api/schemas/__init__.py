"""Request and response schemas of the HTTP API (pydantic), separate from the domain and storage models."""
