//! Host bindings generated from the WIT contract 0.2 in `guest-sdk/wit/`
//! (0.1 components: [`super::v01`]).

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit",
    world: "detection",
    imports: { default: trappable },
    with: {
        "oktawatch:detection/event.okta-event": crate::runtime::host::EventRef,
    },
});
