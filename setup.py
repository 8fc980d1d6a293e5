"""Packages for the wheel (the metadata is in pyproject.toml): every diffchat package, plus the
shipped adapter from assets/ installed as diffchat/assets/ (diffchat.paths.ASSETS_DIR finds it)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["diffchat", "diffchat.*"]) + ["diffchat.assets"],
    package_dir={"diffchat.assets": "assets"},
    package_data={"diffchat.assets": ["diffchat-smollm2-lora/*.json", "diffchat-smollm2-lora/*.safetensors",
                                      "diffchat-smollm2-lora/README.md"]},
    include_package_data=False,
)
