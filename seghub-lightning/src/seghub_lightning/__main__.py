"""``python -m seghub_lightning`` is ``seghub-train``."""

from seghub_lightning.cli import main

if __name__ == "__main__":
    main()
