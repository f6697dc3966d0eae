// WaitStep is header-only: the runner keeps every step with a duration open until it ends.
#include "injectors/wait_step.hpp"
