"""Small pieces every tablehub process shares; imports nothing of hub, devices or cloud_bridge."""
