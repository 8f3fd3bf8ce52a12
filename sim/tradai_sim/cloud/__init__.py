"""The cloud process: AWS emulator (moto server) plus the control plane AWS would provide."""
