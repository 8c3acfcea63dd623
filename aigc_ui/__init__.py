"""The Gradio page of AIGC Studio, one module per tab; assembled by `app.build_demo`.

All Gradio code lives here and in app.py; the only door to the engine is `aigc.service.studio.Studio`.
"""
