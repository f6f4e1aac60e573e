"""Real-browser tier: the notebooks and their widgets in JupyterLab, driven by Chromium."""
