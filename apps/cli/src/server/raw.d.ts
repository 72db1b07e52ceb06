/** A file imported as its text (`import text from "./file.html?raw"`): build.mjs bundles it as a string. */
declare module "*?raw" {
  const text: string
  export default text
}
