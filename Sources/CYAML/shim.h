// libyaml (Debian: libyaml-dev), the parser Outrigger's config composer reads events from.
#include <yaml.h>
