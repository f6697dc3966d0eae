#pragma once
// SIGINT and SIGTERM only set a flag; the runner notices it within a tick and reverts every fault.
namespace rebound {

void install_interrupt_handlers();
// The signal that asked rebound to stop, or 0.
int interrupt_signal();
void clear_interrupt();

// SIGWINCH only sets a flag too: the live display reads the terminal's new width at its next redraw.
void install_resize_handler();
// True once after each resize of the terminal.
bool take_resize();

}  // namespace rebound
