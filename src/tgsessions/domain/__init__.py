"""The pure domain: value objects, entities, policies, errors and ports. Standard library only."""
