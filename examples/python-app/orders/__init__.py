"""python-app's example jobs over a small bundled order data set (see ``orders.jobs``)."""
