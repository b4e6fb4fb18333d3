"""Environments: making them from ids or factories, their spaces, the vector backends (sync,
async, EnvPool), Atari preprocessing and the JAX-native gymnax/Brax envs."""
