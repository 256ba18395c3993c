"""The ``original`` compatibility profile: the replaced NestJS service's endpoints, bodies, status codes and
response shapes (docs/compat-original.md), over the same services as the native API."""
