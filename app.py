"""DiffChat web app (the Space's entry; the same as `diffchat serve`).

    python app.py                      # shipped editor; sdxl on a GPU, sd-turbo on a CPU
    python app.py --backend tiny       # fully offline (tiny random pipeline)
    python app.py --items runs/eval/items.jsonl --db votes.sqlite
"""
try:  # ZeroGPU Spaces: spaces must be imported before anything initialises CUDA
    import spaces  # noqa: F401
except ImportError:
    pass

from diffchat.serve import main, parse_args  # noqa: F401 - parse_args for tests and scripts

if __name__ == "__main__":
    main()
