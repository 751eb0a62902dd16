# Tells `mix format` which files belong to the demo app, with the same inputs as a Phoenix app.
[
  inputs: ["*.{ex,exs}", "{config,lib,test}/**/*.{ex,exs}"]
]
