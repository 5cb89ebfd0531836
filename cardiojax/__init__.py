"""cardiojax: differentiable, physics-informed cardiovascular simulation in JAX."""
