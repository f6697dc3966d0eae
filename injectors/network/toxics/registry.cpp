// The one table of toxics: a row per toxic, each defined in toxics/<name>.cpp. `rebound faults`, the docs'
// name lists and tcp.toxic's summary are generated from it; its order is the order they show.
#include "injectors/network/toxics/toxic.hpp"

namespace rebound {

namespace toxics {
ToxicType latency();
ToxicType bandwidth();
ToxicType slow_close();
ToxicType timeout();
ToxicType reset_peer();
ToxicType slicer();
ToxicType limit_data();
}  // namespace toxics

const std::vector<ToxicType>& toxic_registry() {
  static const std::vector<ToxicType> table = {
      toxics::latency(),    toxics::bandwidth(), toxics::slow_close(), toxics::timeout(),
      toxics::reset_peer(), toxics::slicer(),    toxics::limit_data(),
  };
  return table;
}

}  // namespace rebound
