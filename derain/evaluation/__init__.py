"""The exam every run takes: decoupled metrics (``metrics``, with the field's Y-channel convention in
``ychannel``), evaluation of a model on fixed sets (``evaluate``), the run's images (``figures``) and the
printed metric table (``tables``)."""
