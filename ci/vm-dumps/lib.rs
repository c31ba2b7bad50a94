// Empty: this manifest exists to be fetched, never built.
