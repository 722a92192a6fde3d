"""The generator inside other programs: an ONNX graph for game engines (``onnx``) and a static web page that
draws characters in the browser (``web``). The character pack's engine files (Phaser atlas, Godot resources)
live with the other animation exports, in :mod:`muybridge.animation.pack`."""
