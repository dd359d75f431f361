"""Built-in plugin: model sources (torchvision + local weights, import paths, embedded, real)."""
