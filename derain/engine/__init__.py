"""How any run trains, whatever its task: the iteration-based loop (``loop``), K runs as one vmapped ensemble
(``ensemble``), seeding (``seeding``), device choice (``device``) and progress lines (``progress``)."""
