print("mulestream: under construction")
