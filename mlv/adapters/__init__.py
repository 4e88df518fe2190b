"""All access to git and DVC: verb-named functions that turn their failures into MlvError."""
