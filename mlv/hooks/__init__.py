"""Git hooks: installing them, and the fast runtime the installed scripts call."""
