"""What the page and the API call: the `Studio` facade (models, samples, ratings, explorer axes)
and the background fine-tune jobs. No web framework here; no UI imports it from below."""
