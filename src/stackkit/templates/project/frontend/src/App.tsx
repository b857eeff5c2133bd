import { lazy } from "react";
import { Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { GuestOnly, RequireAuth } from "./components/RequireAuth";

// Each page is its own chunk: the login page loads only what it needs.
const Login = lazy(() => import("./pages/Login"));
const Register = lazy(() => import("./pages/Register"));
const Dashboard = lazy(() => import("./pages/Dashboard"));
const ResourceList = lazy(() => import("./pages/ResourceList"));
const NotFound = lazy(() => import("./pages/NotFound"));

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route path="/login" element={<GuestOnly><Login /></GuestOnly>} />
        <Route path="/register" element={<GuestOnly><Register /></GuestOnly>} />
        <Route path="/" element={<RequireAuth><Dashboard /></RequireAuth>} />
        <Route path="/r/:name" element={<RequireAuth><ResourceList /></RequireAuth>} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
