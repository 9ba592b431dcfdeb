"""Docker Swarm: the desired state translated into swarm services, secrets and a network."""
