"""``python -m opsml_image``: the command line."""

from opsml_image.cli import main

if __name__ == "__main__":
    main()
