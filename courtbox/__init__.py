"""courtbox: recording, live transcription and evidence-grade archive for tech courtrooms.

The rooms of the house (see DESIGN.md): ``audio`` captures and archives, ``transcribe``
turns speech into text, ``agent`` owns config, store, lifecycle, API and CLI, ``sync``
hands records to the court network, ``hardware`` watches the box.
"""

__version__ = "0.1.0"
