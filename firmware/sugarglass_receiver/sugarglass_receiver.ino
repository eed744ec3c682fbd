// Sugarglass receiver for Arduino: frames from the host's serial output drive one PWM output
// per element; after WATCHDOG_MS without a good frame every element is switched off.
//
// Elements driven both ways (canvas.signed: 1500 is off, below it cools) need a direction
// output per element as well as PWM: this sketch drives heat only, so use it with unsigned
// canvases, or extend drive() to set an H-bridge's direction from level < 1500.
//
// A Mega has 15 PWM pins; 48 elements need PWM driver boards (a PCA9685 per 16 channels):
// replace drive() with their library's call. The Peltier elements need H-bridge or MOSFET
// drivers and their own supply: never drive them from a pin. The parser and the watchdog are
// in sugarglass_frame.h, tested on the host (firmware/host_test, tests/test_receiver.py).
#include "sugarglass_frame.h"
#if defined(__AVR__)
#include <avr/wdt.h>  // the chip's own watchdog: a sketch that hangs resets the board, elements off
#endif

const uint16_t ELEMENTS = 48;
const uint32_t WATCHDOG_MS = 2000;  // four of the host's 500 ms heartbeats
const uint16_t OFF_LEVEL = 0;       // unsigned levels only: 0..3000 is off..full heat
const uint8_t BYTES_PER_PASS = 64;  // so that noise on the line can never keep tick() from running
const uint8_t PINS[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 44, 45, 46};  // Mega PWM pins
const uint8_t PIN_COUNT = sizeof(PINS);

sugarglass::Receiver<ELEMENTS> receiver(WATCHDOG_MS, OFF_LEVEL);

void drive(uint16_t element, uint16_t level) {
  if (level > sugarglass::FULL) level = sugarglass::FULL;
  if (element < PIN_COUNT) analogWrite(PINS[element], (uint32_t)level * 255 / sugarglass::FULL);
}

void setup() {
  for (uint8_t i = 0; i < PIN_COUNT; i++) {
    pinMode(PINS[i], OUTPUT);
    drive(i, OFF_LEVEL);
  }
  Serial.begin(115200);
#if defined(__AVR__)
  wdt_enable(WDTO_1S);
#endif
}

void loop() {
  for (uint8_t n = 0; n < BYTES_PER_PASS && Serial.available() > 0; n++) receiver.feed((uint8_t)Serial.read(), millis());
  receiver.tick(millis());
#if defined(__AVR__)
  wdt_reset();
#endif
  if (receiver.changed) {
    for (uint16_t e = 0; e < ELEMENTS; e++) drive(e, receiver.levels[e]);
    receiver.changed = false;
  }
}
