"""Use cases: the session factory, maintenance. Imports the domain only."""
