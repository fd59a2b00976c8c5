//! Host bindings generated from the WIT contract in `guest-sdk/wit/`.

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit",
    world: "detection",
    imports: { default: trappable },
    with: {
        "oktawatch:detection/event.okta-event": crate::runtime::host::EventRef,
    },
});
