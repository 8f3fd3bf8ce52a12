"""What each FIS action does to the local cloud, one module per kind of effect."""
