"""Face datasets: the parametric set, the field's file formats, streaming Datasets, the synthetic-dataset writer."""
