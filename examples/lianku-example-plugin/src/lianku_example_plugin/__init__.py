"""An example third-party Lianku plugin, installed like any integrator's package."""
